# FindNCCL
# --------
# Finds NVIDIA NCCL (header nccl.h and library libnccl).
#
# Search hints, in order: the NCCL_ROOT variable, the NCCL_ROOT environment variable, the CUDA
# toolkit found by find_package(CUDAToolkit) (CUDAToolkit_LIBRARY_ROOT, CUDAToolkit_INCLUDE_DIRS,
# CUDAToolkit_LIBRARY_DIR), then /usr/local/cuda and the Debian/Ubuntu multiarch directories.
# Setting NCCL_INCLUDE_DIR / NCCL_LIBRARY in the cache overrides the search.
#
# Result variables:
#   NCCL_FOUND, NCCL_INCLUDE_DIRS, NCCL_LIBRARIES,
#   NCCL_VERSION (MAJOR.MINOR.PATCH), NCCL_VERSION_MAJOR, NCCL_VERSION_MINOR, NCCL_VERSION_PATCH
# Imported target:
#   NCCL::nccl

set(_NCCL_HINTS)
foreach(_nccl_hint IN ITEMS "${NCCL_ROOT}" "$ENV{NCCL_ROOT}" "${CUDAToolkit_LIBRARY_ROOT}"
                            "${CUDAToolkit_TARGET_DIR}")
  if(_nccl_hint)
    list(APPEND _NCCL_HINTS "${_nccl_hint}")
  endif()
endforeach()
list(APPEND _NCCL_HINTS /usr/local/cuda)

find_path(NCCL_INCLUDE_DIR
  NAMES nccl.h
  HINTS ${_NCCL_HINTS} ${CUDAToolkit_INCLUDE_DIRS}
  PATH_SUFFIXES include include/x86_64-linux-gnu
  PATHS /usr/include/x86_64-linux-gnu /usr/local/cuda/include
  DOC "Directory containing nccl.h")

find_library(NCCL_LIBRARY
  NAMES nccl
  HINTS ${_NCCL_HINTS} ${CUDAToolkit_LIBRARY_DIR}
  PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu targets/x86_64-linux/lib
  PATHS /usr/local/cuda/lib /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu
  DOC "Path to libnccl")

unset(NCCL_VERSION)
if(NCCL_INCLUDE_DIR AND EXISTS "${NCCL_INCLUDE_DIR}/nccl.h")
  file(STRINGS "${NCCL_INCLUDE_DIR}/nccl.h" _nccl_version_lines
       REGEX "^#define[ \t]+NCCL_(MAJOR|MINOR|PATCH)[ \t]+[0-9]+")
  if(_nccl_version_lines)
    string(REGEX REPLACE ".*#define[ \t]+NCCL_MAJOR[ \t]+([0-9]+).*" "\\1"
           NCCL_VERSION_MAJOR "${_nccl_version_lines}")
    string(REGEX REPLACE ".*#define[ \t]+NCCL_MINOR[ \t]+([0-9]+).*" "\\1"
           NCCL_VERSION_MINOR "${_nccl_version_lines}")
    string(REGEX REPLACE ".*#define[ \t]+NCCL_PATCH[ \t]+([0-9]+).*" "\\1"
           NCCL_VERSION_PATCH "${_nccl_version_lines}")
    set(NCCL_VERSION "${NCCL_VERSION_MAJOR}.${NCCL_VERSION_MINOR}.${NCCL_VERSION_PATCH}")
  endif()
  unset(_nccl_version_lines)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(NCCL
  REQUIRED_VARS NCCL_LIBRARY NCCL_INCLUDE_DIR
  VERSION_VAR NCCL_VERSION)

if(NCCL_FOUND)
  set(NCCL_INCLUDE_DIRS "${NCCL_INCLUDE_DIR}")
  set(NCCL_LIBRARIES "${NCCL_LIBRARY}")
  if(NOT TARGET NCCL::nccl)
    add_library(NCCL::nccl UNKNOWN IMPORTED)
    set_target_properties(NCCL::nccl PROPERTIES
      IMPORTED_LOCATION "${NCCL_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}")
  endif()
endif()

mark_as_advanced(NCCL_INCLUDE_DIR NCCL_LIBRARY)
unset(_NCCL_HINTS)
unset(_nccl_hint)
