"""daemon/routes"""
