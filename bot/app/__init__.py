"""The wiring: settings, the one ``bootstrap`` that builds every client and channel, the
CLI, the web app and the demo; the config file is read here (``config_file``), the core only
parses its text. What check-config and each process's start find wrong or worth saying is
``preflight``'s (a ``finding``; release policy's in ``release_findings``)."""
