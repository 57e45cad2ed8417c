"""Agents, tasks and swarms: the domain models every front end, workflow and executor shares."""
