"""The simulator of the seed city (``hallwatch simulate``): the halls of a directory,
their windows, staff and matters, streaming every hall action to a hallwatch over HTTP."""
