"""The wiring: settings, the one ``bootstrap`` that builds every client and channel, the
CLI, the web app and the demo; the config file is read here (``config_file``), the core only
parses its text; the clients the settings ask for (``clients``), the channels built
(``channels``) and the long-running services (``services``). What check-config and each
process's start find wrong or worth saying is the ``findings`` package's.

Modules: ``bootstrap``, ``channels``, ``cli``, ``clients``, ``config_file``, ``demo``,
``services``, ``setting_types``, ``settings``, ``webapp``."""
