"""squatcli: judge squat form from a video: pose, reps and their measurements, a rep model judging each rep."""

__version__ = "0.1.0"
