# run_downstream.cmake: checks that other projects can consume hrnet.
#
#   cmake -DMODE=find_package     -DHRNET_BUILD_DIR=<hrnet build dir> -DSCRATCH_DIR=<dir> -P run_downstream.cmake
#   cmake -DMODE=add_subdirectory -DSCRATCH_DIR=<dir> [-DHRNET_SOURCE_DIR=<src>]       -P run_downstream.cmake
#   cmake -DMODE=all ... (both; the default)
#
# find_package:     cmake --install <HRNET_BUILD_DIR> --prefix <SCRATCH_DIR>/prefix, then configures
#                   tests/downstream with CMAKE_PREFIX_PATH=<SCRATCH_DIR>/prefix, builds and runs it.
# add_subdirectory: configures tests/downstream/subdir (add_subdirectory(<HRNET_SOURCE_DIR>), CPU
#                   only, no tests/examples/benchmarks, unoptimised), builds and runs it.
# Either must print "downstream ok"; any failure stops the script with a non-zero exit status.
#
# Optional: CONFIG (build type / --config; default Release), GENERATOR (default Ninja),
# CXX_COMPILER, JOBS (parallel build jobs), CUDAToolkit_ROOT / CUDNN_ROOT / NCCL_ROOT (passed on
# to the find_package consumer).
cmake_minimum_required(VERSION 3.25)

set(_here "${CMAKE_CURRENT_LIST_DIR}")
if(NOT DEFINED MODE OR MODE STREQUAL "")
  set(MODE all)
endif()
if(NOT MODE MATCHES "^(find_package|add_subdirectory|all)$")
  message(FATAL_ERROR "run_downstream: MODE must be find_package, add_subdirectory or all (got '${MODE}')")
endif()
if(NOT SCRATCH_DIR)
  message(FATAL_ERROR "run_downstream: pass -DSCRATCH_DIR=<scratch directory>")
endif()
if(NOT CONFIG)
  set(CONFIG Release)
endif()
if(NOT GENERATOR)
  set(GENERATOR Ninja)
endif()
if(NOT HRNET_SOURCE_DIR)
  get_filename_component(HRNET_SOURCE_DIR "${_here}/../.." ABSOLUTE)
endif()
get_filename_component(SCRATCH_DIR "${SCRATCH_DIR}" ABSOLUTE)
file(MAKE_DIRECTORY "${SCRATCH_DIR}")

set(_common_args -G "${GENERATOR}" "-DCMAKE_BUILD_TYPE=${CONFIG}")
if(CXX_COMPILER)
  list(APPEND _common_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
set(_build_args --config "${CONFIG}")
if(JOBS)
  list(APPEND _build_args --parallel "${JOBS}")
endif()

function(_run what)
  string(REPLACE ";" " " _pretty "${ARGN}")
  message(STATUS "[downstream] ${what}: ${_pretty}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "[downstream] FAILED (${_rc}): ${what}\n  command: ${_pretty}")
  endif()
endfunction()

function(_run_consumer exe)
  if(NOT EXISTS "${exe}")
    message(FATAL_ERROR "[downstream] FAILED: ${exe} was not built")
  endif()
  message(STATUS "[downstream] run: ${exe}")
  execute_process(COMMAND "${exe}" RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
  message(STATUS "[downstream] output: ${_out}${_err}")
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "[downstream] FAILED: ${exe} exited with ${_rc}\n${_out}${_err}")
  endif()
  if(NOT _out MATCHES "downstream ok")
    message(FATAL_ERROR "[downstream] FAILED: ${exe} did not print 'downstream ok'\n${_out}${_err}")
  endif()
endfunction()

if(MODE STREQUAL "find_package" OR MODE STREQUAL "all")
  if(NOT HRNET_BUILD_DIR)
    message(FATAL_ERROR "run_downstream: mode find_package needs -DHRNET_BUILD_DIR=<hrnet build dir>")
  endif()
  get_filename_component(HRNET_BUILD_DIR "${HRNET_BUILD_DIR}" ABSOLUTE)
  if(NOT EXISTS "${HRNET_BUILD_DIR}/cmake_install.cmake")
    message(FATAL_ERROR "run_downstream: ${HRNET_BUILD_DIR} is not a configured hrnet build directory")
  endif()
  set(_prefix "${SCRATCH_DIR}/prefix")
  set(_bin "${SCRATCH_DIR}/find_package-build")
  file(REMOVE_RECURSE "${_prefix}" "${_bin}")

  _run("install hrnet" "${CMAKE_COMMAND}" --install "${HRNET_BUILD_DIR}" --prefix "${_prefix}"
       --config "${CONFIG}")
  set(_fp_args ${_common_args} "-DCMAKE_PREFIX_PATH=${_prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
  foreach(_v IN ITEMS CUDAToolkit_ROOT CUDNN_ROOT NCCL_ROOT)
    if(${_v})
      list(APPEND _fp_args "-D${_v}=${${_v}}")
    endif()
  endforeach()
  _run("configure find_package consumer" "${CMAKE_COMMAND}" -S "${_here}" -B "${_bin}" ${_fp_args})

  # Make sure the package came from the fresh install, not from somewhere else on the system.
  file(STRINGS "${_bin}/CMakeCache.txt" _hrnet_dir REGEX "^hrnet_DIR:")
  string(REGEX REPLACE "^hrnet_DIR:[A-Z]+=" "" _hrnet_dir "${_hrnet_dir}")
  file(REAL_PATH "${_prefix}" _prefix_real)
  file(REAL_PATH "${_hrnet_dir}" _hrnet_dir_real)
  string(FIND "${_hrnet_dir_real}" "${_prefix_real}/" _pos)
  if(NOT _pos EQUAL 0)
    message(FATAL_ERROR "[downstream] FAILED: hrnet was found at '${_hrnet_dir}', not under ${_prefix}")
  endif()

  _run("build find_package consumer" "${CMAKE_COMMAND}" --build "${_bin}" ${_build_args})
  _run_consumer("${_bin}/downstream")
  message(STATUS "[downstream] find_package: passed")
endif()

if(MODE STREQUAL "add_subdirectory" OR MODE STREQUAL "all")
  set(_bin "${SCRATCH_DIR}/add_subdirectory-build")
  file(REMOVE_RECURSE "${_bin}")
  # This consumer compiles the library's sources again. It checks that a vendored build configures,
  # compiles and links, not how fast the result runs, so it builds unoptimised (-O0, no debug info):
  # less than half the compile time of a Release build.
  set(_sub_args ${_common_args})
  list(FILTER _sub_args EXCLUDE REGEX "^-DCMAKE_BUILD_TYPE=")
  _run("configure add_subdirectory consumer" "${CMAKE_COMMAND}" -S "${_here}/subdir" -B "${_bin}"
       ${_sub_args} -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O0" "-DHRNET_SOURCE_DIR=${HRNET_SOURCE_DIR}")
  set(_sub_build_args --config Debug)
  if(JOBS)
    list(APPEND _sub_build_args --parallel "${JOBS}")
  endif()
  _run("build add_subdirectory consumer" "${CMAKE_COMMAND}" --build "${_bin}" ${_sub_build_args})
  _run_consumer("${_bin}/downstream")
  message(STATUS "[downstream] add_subdirectory: passed")
endif()
