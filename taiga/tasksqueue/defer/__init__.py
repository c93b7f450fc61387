"""The defer path: a call's options and arguments checked and encoded, then one INSERT."""
