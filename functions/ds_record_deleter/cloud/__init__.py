"""Small clients of the cloud services the core is given (see README: How the code is laid out)."""
import warnings

# The layer ships requests without a character-detection package on purpose (see
# layers/deps/requirements.txt): requests falls back to UTF-8 and would say so on every cold start.
# Set here, before any module of this package imports requests.
warnings.filterwarnings("ignore", message="Unable to find acceptable character detection dependency")
