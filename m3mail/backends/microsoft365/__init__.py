"""The Microsoft 365 backend: msal (app-only) and the O365 library over Microsoft Graph.

msal and O365 are imported here and nowhere else in m3mail.
"""
