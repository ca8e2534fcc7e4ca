"""squatcli: judge squat form from a video via 3D pose and temporal distance matrices."""

__version__ = "0.1.0"
