"""The service directory: the services each organisation publishes for referrals, in the Open
Referral Human Services Data Specification (HSDS 3) shape. Organisational, public facts only:
nothing about a person, and never the address of a confidential location. Pure: no I/O."""
