"""Table Storage repositories (couplings, checkpoints, runs, errors, settings, archive) on azure-data-tables."""
