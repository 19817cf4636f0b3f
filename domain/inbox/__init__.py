"""A referral received from a partner organisation of the same deployment (its inbox)."""
