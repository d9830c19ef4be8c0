"""speech: recognition and synthesis with recurrent networks, trained on your own recordings."""

__version__ = "0.1.0"
