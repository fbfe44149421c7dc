"""Partner teams and their referral requests (seed 000): the roster, memberships, the shared customer list, the
7-day reminders, offering a customer by text, accepting, delivery callbacks and text replies.
"""
