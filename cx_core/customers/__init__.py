"""Customer profiles: RFM, lifetime value (BG/NBD + Gamma-Gamma), churn and text signals."""
