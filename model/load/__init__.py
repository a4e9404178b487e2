"""From a checkpoint folder to a ready model: config, weights, device and generation defaults."""
