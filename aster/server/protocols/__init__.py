"""Wire protocols.  Each drives :class:`~aster.server.protocols.cycle.HTTPCycle`."""
