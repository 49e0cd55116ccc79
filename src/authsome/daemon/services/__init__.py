"""daemon/services"""
