"""The printed results, in the layouts of App. Table 2 (a detector against forgery methods) and Table 3 (a
detector before and after further training), as aligned Markdown so a doc can quote the output verbatim."""

from __future__ import annotations

from infoswap.forensics.metrics import METRICS

HEADERS = ("AUC", "AP", "F1", "MSE")


def _markdown(first: str, rows: list[tuple[str, dict]]) -> str:
    cells = [[label] + [f"{metrics[m]:.4f}" for m in METRICS] for label, metrics in rows]
    header = [first, *HEADERS]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def _scored(result: dict) -> str:
    return (f"split {result['split']} of {result['set']}: {result['real']} real + {result['fake']} fake faces"
            + (f", {result['identities']} identities" if result["identities"] else ""))


def table2(detector: str, results: list[dict]) -> str:
    """One row per forgery method (its set), scored by one detector."""
    captions = [f"detector {detector}", *(f"{r['method']}: {_scored(r)}" for r in results)]
    return "\n".join(captions) + "\n\n" + _markdown("method", [(r["method"], r) for r in results])


def table3(method: str, rows: list[tuple[str, dict]]) -> str:
    """One row per detector, all scored on the same held-out faces of `method`."""
    caption = f"{method} metrics, {_scored(rows[0][1])}"
    return caption + "\n\n" + _markdown("detector", rows)
