"""Equipment and tools (HB ch.4, §5.1.3(2)): register, procurement, maintenance, calibration, retirement."""
