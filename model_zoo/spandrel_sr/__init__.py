"""Public x4 checkpoints whose architecture spandrel detects (DITN, CRAFT, Swift-SRGAN)."""
