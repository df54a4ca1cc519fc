"""The registered functions called with real `azure.functions` requests and messages over the sync stack: routes,
bodies, bindings, the queue handler and the timers."""
