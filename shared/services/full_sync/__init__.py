"""Full synchronization: the run, its lines in dependency order, their chunks fanned out on Service Bus, the
messages, and recovery of stalled or lost lines (BC's Full Synch. Review)."""
