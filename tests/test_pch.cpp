// Owner of the tests' precompiled header (test_pch.hpp): the test programs reuse it.
