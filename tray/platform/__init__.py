"""What differs per desktop: start at login and notifications."""
