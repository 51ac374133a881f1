"""What every output says about itself: the tool that made it and that it is AI-generated (IPTC terms)."""

from infoswap import __version__

TOOL = f"infoswap {__version__}"
IPTC_NEWSCODES = "http://cv.iptc.org/newscodes/digitalsourcetype/"
DIGITAL_SOURCE_TYPE = IPTC_NEWSCODES + "trainedAlgorithmicMedia"
# IPTC digital source types that mean "made or changed by a generative model".
AI_SOURCE_TYPES = frozenset(
    IPTC_NEWSCODES + code
    for code in ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "algorithmicMedia",
                 "compositeSynthetic")
)
NOTICE = f"AI-generated: faces swapped by {TOOL} (IPTC digital source type {DIGITAL_SOURCE_TYPE})"


def names_ai_source(text: str | None) -> str | None:
    """The AI digital source type URL that `text` names, if any (tags and comments carry it as plain text)."""
    if text:
        for url in AI_SOURCE_TYPES:
            if url in text:
                return url
    return None
