# FindCUDNN
# ---------
# Finds NVIDIA cuDNN (header cudnn.h and library libcudnn).
#
# Search hints, in order: the CUDNN_ROOT variable, the CUDNN_ROOT environment variable, the CUDA
# toolkit found by find_package(CUDAToolkit) (CUDAToolkit_LIBRARY_ROOT, CUDAToolkit_INCLUDE_DIRS,
# CUDAToolkit_LIBRARY_DIR), then /usr/local/cuda and the Debian/Ubuntu multiarch directories.
# Setting CUDNN_INCLUDE_DIR / CUDNN_LIBRARY in the cache overrides the search.
#
# Result variables:
#   CUDNN_FOUND, CUDNN_INCLUDE_DIRS, CUDNN_LIBRARIES,
#   CUDNN_VERSION (MAJOR.MINOR.PATCH), CUDNN_VERSION_MAJOR, CUDNN_VERSION_MINOR, CUDNN_VERSION_PATCH
# Imported target:
#   CUDNN::cudnn

set(_CUDNN_HINTS)
foreach(_cudnn_hint IN ITEMS "${CUDNN_ROOT}" "$ENV{CUDNN_ROOT}" "${CUDAToolkit_LIBRARY_ROOT}"
                             "${CUDAToolkit_TARGET_DIR}")
  if(_cudnn_hint)
    list(APPEND _CUDNN_HINTS "${_cudnn_hint}")
  endif()
endforeach()
list(APPEND _CUDNN_HINTS /usr/local/cuda)

find_path(CUDNN_INCLUDE_DIR
  NAMES cudnn.h
  HINTS ${_CUDNN_HINTS} ${CUDAToolkit_INCLUDE_DIRS}
  PATH_SUFFIXES include include/x86_64-linux-gnu
  PATHS /usr/include/x86_64-linux-gnu /usr/local/cuda/include
  DOC "Directory containing cudnn.h")

find_library(CUDNN_LIBRARY
  NAMES cudnn
  HINTS ${_CUDNN_HINTS} ${CUDAToolkit_LIBRARY_DIR}
  PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu targets/x86_64-linux/lib
  PATHS /usr/local/cuda/lib /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu
  DOC "Path to libcudnn")

# Version: cuDNN >= 8 keeps it in cudnn_version.h, older releases in cudnn.h.
unset(CUDNN_VERSION)
if(CUDNN_INCLUDE_DIR)
  foreach(_cudnn_header IN ITEMS cudnn_version.h cudnn.h)
    set(_cudnn_header_path "${CUDNN_INCLUDE_DIR}/${_cudnn_header}")
    if(EXISTS "${_cudnn_header_path}")
      file(STRINGS "${_cudnn_header_path}" _cudnn_version_lines
           REGEX "^#define[ \t]+CUDNN_(MAJOR|MINOR|PATCHLEVEL)[ \t]+[0-9]+")
      if(_cudnn_version_lines)
        string(REGEX REPLACE ".*#define[ \t]+CUDNN_MAJOR[ \t]+([0-9]+).*" "\\1"
               CUDNN_VERSION_MAJOR "${_cudnn_version_lines}")
        string(REGEX REPLACE ".*#define[ \t]+CUDNN_MINOR[ \t]+([0-9]+).*" "\\1"
               CUDNN_VERSION_MINOR "${_cudnn_version_lines}")
        string(REGEX REPLACE ".*#define[ \t]+CUDNN_PATCHLEVEL[ \t]+([0-9]+).*" "\\1"
               CUDNN_VERSION_PATCH "${_cudnn_version_lines}")
        set(CUDNN_VERSION "${CUDNN_VERSION_MAJOR}.${CUDNN_VERSION_MINOR}.${CUDNN_VERSION_PATCH}")
        break()
      endif()
    endif()
  endforeach()
  unset(_cudnn_header)
  unset(_cudnn_header_path)
  unset(_cudnn_version_lines)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CUDNN
  REQUIRED_VARS CUDNN_LIBRARY CUDNN_INCLUDE_DIR
  VERSION_VAR CUDNN_VERSION)

if(CUDNN_FOUND)
  set(CUDNN_INCLUDE_DIRS "${CUDNN_INCLUDE_DIR}")
  set(CUDNN_LIBRARIES "${CUDNN_LIBRARY}")
  if(NOT TARGET CUDNN::cudnn)
    add_library(CUDNN::cudnn UNKNOWN IMPORTED)
    set_target_properties(CUDNN::cudnn PROPERTIES
      IMPORTED_LOCATION "${CUDNN_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${CUDNN_INCLUDE_DIR}")
  endif()
endif()

mark_as_advanced(CUDNN_INCLUDE_DIR CUDNN_LIBRARY)
unset(_CUDNN_HINTS)
unset(_cudnn_hint)
