"""The desktop face of roletray: the only package that imports pystray or PIL."""
