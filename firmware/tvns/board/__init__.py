# Board implementations (see docs/BOARD-INTERFACE.md). Only these modules touch hardware.
