"""`tvns hw`: the reference output stage (hardware/spice/) simulated with ngspice against the
firmware's own pulse edges."""
