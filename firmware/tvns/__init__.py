# taVNS bench stimulator firmware package. Importing it touches no hardware.
VERSION = "0.1.0"
