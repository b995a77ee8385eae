"""at-stream's user-facing helpers: ``at_stream.testing`` is a pytest plugin (entry point
``pytest11``) for teams testing their own code against a real at-stream."""
