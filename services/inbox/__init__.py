"""The referral inbox: referrals partner organisations of this deployment sent to the
caller's organisation — listed, read, accepted or declined — and their expiry by rule."""
