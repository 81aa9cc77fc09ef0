"""roletray doctor: why a role profile does not work, and the policy that fixes it."""
