"""The daily sweeps: partners whose last lead is over 30 days old lapse."""
