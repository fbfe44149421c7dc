"""The daily sweep (handler: reads what is due and hands it on to its work queue) and its work function
(work: lapses partners, reminds team members and their leaders, expires referral requests)."""
