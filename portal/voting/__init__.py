"""Voting: eligibility, ballots, paper ballots and results (built on the rounds)."""
