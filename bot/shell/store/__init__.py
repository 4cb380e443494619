"""Redis as storage: every key built in one class (``keys``), threads saved by compare-and-set
on their version (``threads``) in their stored form (``codec``), which Redis failures a
loop rides out (``redis_faults``), the ports' Redis failures as the core's ``StoreError``
(``guarded``), the channels' own small state (``channel_state``), and the connection pool
with a quick way through when nobody waits (``pool``).

The floor of the shell: imports only the core.

Modules: ``channel_state``, ``codec``, ``guarded``, ``keys``, ``pool``, ``redis_faults``,
``threads``.
"""
