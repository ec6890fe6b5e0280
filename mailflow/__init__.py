"""mailflow: an email-first relay between people and ambassadors of trades, trainings and VAE."""

__version__ = "0.1.0"
