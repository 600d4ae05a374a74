"""The application's entry points: the command line, the scheduler, the demo campaign, the web view."""
