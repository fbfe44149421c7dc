"""The referrals function: partner teams, their shared customer lists, referral requests texted to team
members, and Twilio's webhooks."""
