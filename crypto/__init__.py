"""Key material and ciphertext. Nothing outside this package makes or opens ciphertext."""
