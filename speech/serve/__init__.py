"""``speech serve``: an OpenAI-compatible HTTP and WebSocket server over the recognition and synthesis APIs.

An adapter, holding no model code: requests are checked and decoded here, recognised by
:class:`speech.Recognizer` (through a batching queue, so many clients share model batches), spoken by
:class:`speech.Synthesizer` (streamed sentence by sentence), and transcripts rendered by
:mod:`speech.transcript`. Live streams go through :class:`speech.stream.LiveTranscriber`, as
``speech transcribe --stream`` does. The messages are documented in ``docs/serve.md``.
"""

from speech.serve.app import create_app
from speech.serve.state import ServeConfig

__all__ = ["ServeConfig", "create_app"]
