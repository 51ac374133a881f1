"""The gradio page over `infoswap.ui.backend.Backend`: four tabs, a status line each, one queue for the model.

Every event that runs a network shares one queue slot (`concurrency_id="model"`, limit 1), so requests
wait their turn instead of loading the CPU or GPU twice; inspect, which runs none, has its own slot. A
problem with an upload becomes "Error: …" in the tab's status line, with the upload named by its own
file name (the server's temp paths are replaced), and the app keeps serving. Uploads bigger than the
largest limit are refused by the web server before they are stored. No analytics, no share link, no
fonts or scripts from elsewhere.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from infoswap.errors import InfoswapError
from infoswap.faces.select import SELECT_MODES
from infoswap.ui.backend import Backend
from infoswap.ui.limits import upload_name

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # read when gradio is imported
import gradio as gr  # noqa: E402

log = logging.getLogger(__name__)

QUEUE_SIZE = 16  # requests waiting beyond this are refused with gradio's "queue full"
UPLOAD_HEIGHT = 150  # px of each upload box
INTRO = """# infoswap
Swap the identity of a source photo into the faces of a target image or video. Every result carries an
invisible watermark and metadata marking it as AI-generated (check any file in the **Inspect** tab).
Swap only faces of people who agreed to it."""


def _scrub(message: str, inputs: tuple[Any, ...]) -> str:
    """The message with each upload's temp path replaced by the upload's own file name."""
    paths = [p for value in inputs for p in (value if isinstance(value, list) else [value]) if isinstance(p, str)]
    for path in sorted(paths, key=len, reverse=True):
        message = message.replace(path, upload_name(path))
    return message


def _guarded(work: Callable[[], tuple], blank: tuple, inputs: tuple[Any, ...]) -> tuple:
    """work()'s outputs with its last one, a status text, marked done; or `blank` outputs and an error
    status. A bug is logged on the server and shown as a short apology, never as a traceback."""
    try:
        *outputs, text = work()
        return (*outputs, f"**Done:** {text}")
    except InfoswapError as e:
        return (*blank, f"**Error:** {_scrub(str(e), inputs)}")
    except Exception:
        log.exception("request failed")
        return (*blank, "**Error:** something went wrong on the server (its log has the details); "
                        "please try again")


def _selection(prefix: str) -> tuple[gr.Radio, gr.Number, gr.File]:
    mode = gr.Radio(list(SELECT_MODES), value="all", label="Faces to swap", elem_id=f"{prefix}-mode",
                    info="all faces, the face at an index, the largest face, or faces of the reference person")
    index = gr.Number(value=0, precision=0, minimum=0, label="Face index (0 is the leftmost)",
                      elem_id=f"{prefix}-index")
    reference = gr.File(label="Reference photo (for 'reference'): the person to replace", height=UPLOAD_HEIGHT,
                        elem_id=f"{prefix}-reference")
    return mode, index, reference


def _swap_tab(backend: Backend, kind: str) -> None:
    """The image or the video swap: sources, target, selection -> result, download and status."""
    video = kind == "video"
    with gr.Row():
        with gr.Column():
            sources = gr.File(label="Source photo(s): the person to swap in", file_count="multiple",
                              height=UPLOAD_HEIGHT, elem_id=f"{kind}-sources")
            target = gr.File(label=f"Target {kind}", height=UPLOAD_HEIGHT, elem_id=f"{kind}-target")
            mode, index, reference = _selection(kind)
            button = gr.Button(f"Swap {kind}", variant="primary", elem_id=f"{kind}-swap")
        with gr.Column():
            status = gr.Markdown(elem_id=f"{kind}-status")
            if video:
                result = gr.Video(label="Result (audio kept)", interactive=False, format=None, buttons=[],
                                  elem_id="video-result")
            else:
                preview = gr.Image(label="Faces in the target, numbered", interactive=False, buttons=["fullscreen"],
                                   elem_id="image-preview")
                result = gr.Image(label="Result", interactive=False, type="filepath", buttons=["fullscreen"],
                                  elem_id="image-result")
            download = gr.DownloadButton(f"Download {kind}", visible=False, elem_id=f"{kind}-download")
    run = backend.swap_video if video else backend.swap_image

    def swap(source_paths, target_path, mode_value, index_value, reference_path,
             progress=gr.Progress(track_tqdm=True)):  # the video's frame bar shows in the result's place
        def work():
            done = run(source_paths, target_path, mode_value, index_value, reference_path)
            return str(done.path), gr.DownloadButton(value=str(done.path), visible=True), done.status

        return _guarded(work, (None, gr.DownloadButton(value=None, visible=False)),
                        (source_paths, target_path, reference_path))

    button.click(swap, [sources, target, mode, index, reference], [result, download, status],
                 concurrency_id="model", concurrency_limit=1)
    if not video:
        def show_faces(target_path):
            if not target_path:
                return None, ""
            return _guarded(lambda: backend.preview_faces(target_path), (None,), (target_path,))

        target.change(show_faces, target, [preview, status], concurrency_id="model", concurrency_limit=1)


def _inspect_tab(backend: Backend) -> None:
    upload = gr.File(label="Image or video to check", height=UPLOAD_HEIGHT, elem_id="inspect-file")
    status = gr.Markdown(elem_id="inspect-status")
    report = gr.JSON(label="Watermark and metadata", elem_id="inspect-report")

    def inspect(path):
        if not path:
            return None, ""
        return _guarded(lambda: backend.inspect(path), (None,), (path,))

    upload.change(inspect, upload, [report, status], concurrency_limit=1)


def _explain_tab(backend: Backend) -> None:
    gr.Markdown("What the identity bottleneck keeps of a face, per tap of the recogniser: red (λ ≈ 1) is "
                "identity information kept for the source, blue (λ ≈ 0) is replaced by noise.")
    photo = gr.File(label="Photo with a face (the largest is used)", height=UPLOAD_HEIGHT, elem_id="explain-file")
    status = gr.Markdown(elem_id="explain-status")
    grid = gr.Image(label="λ heatmaps", show_label=False, interactive=False, buttons=["download", "fullscreen"],
                    elem_id="explain-grid")
    table = gr.Markdown(elem_id="explain-table")

    def explain(path):
        if not path:
            return None, "", ""
        return _guarded(lambda: backend.explain(path), (None, ""), (path,))

    photo.change(explain, photo, [grid, table, status], concurrency_id="model", concurrency_limit=1)


def build_app(backend: Backend) -> gr.Blocks:
    """The page; call `serve` (or `.launch` with the same arguments) to run it."""
    with gr.Blocks(title="infoswap", analytics_enabled=False, delete_cache=(1800, 3600)) as app:
        gr.Markdown(INTRO)
        gr.Markdown(backend.limits.describe(), elem_id="limits")
        with gr.Tab("Image swap", id="image"):
            _swap_tab(backend, "image")
        with gr.Tab("Video swap", id="video"):
            _swap_tab(backend, "video")
        with gr.Tab("Inspect", id="inspect"):
            _inspect_tab(backend)
        with gr.Tab("Explain", id="explain"):
            _explain_tab(backend)
    return app.queue(max_size=QUEUE_SIZE, default_concurrency_limit=1)


def serve(backend: Backend, host: str = "127.0.0.1", port: int = 7860, *, quiet: bool = False) -> None:
    """Runs the app until interrupted, on `host`:`port` only (no share link)."""
    app = build_app(backend)
    app.launch(server_name=host, server_port=port, share=False, inbrowser=False, quiet=quiet,
               max_file_size=backend.limits.upload_bytes, allowed_paths=[str(backend.outputs.path)],
               enable_monitoring=False, run_history=False, mcp_server=False, ssr_mode=False, pwa=False,
               footer_links=["gradio", "settings"])
