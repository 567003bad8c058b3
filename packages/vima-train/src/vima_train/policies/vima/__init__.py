"""VIMA's published policy (vimalabs/VIMA `VIMAPolicy`), module for module."""
