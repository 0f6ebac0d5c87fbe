"""hallwatch's domain: hall events, the case aggregate, the working-day calendar and
supervision rules. Pure: nothing in this package does I/O."""
