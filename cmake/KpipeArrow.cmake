# Finds Apache Arrow C++ and Parquet and defines the targets kpipe::arrow, kpipe::parquet,
# kpipe::arrow_compute, kpipe::arrow_s3 (Arrow's S3 file system), whatever provided them:
#   1. an installed Arrow (Apache's APT repository, conda, vcpkg, Homebrew) via find_package;
#   2. otherwise the libraries and headers bundled in the pyarrow wheel of .venv/ (or of
#      KPIPE_PYTHON), linked by full path with an RPATH so `kpipe` runs without LD_LIBRARY_PATH.
# The rest of the build only uses the kpipe:: targets.

set(KPIPE_ARROW_SOURCE "" CACHE STRING "where Arrow C++ came from (set by KpipeArrow.cmake)" FORCE)

if(NOT KPIPE_FORCE_PYARROW)
  find_package(Arrow CONFIG QUIET)
  find_package(Parquet CONFIG QUIET)
endif()

if(Arrow_FOUND AND Parquet_FOUND)
  add_library(kpipe::arrow INTERFACE IMPORTED)
  target_link_libraries(kpipe::arrow INTERFACE Arrow::arrow_shared)
  add_library(kpipe::parquet INTERFACE IMPORTED)
  target_link_libraries(kpipe::parquet INTERFACE Parquet::parquet_shared)
  add_library(kpipe::arrow_compute INTERFACE IMPORTED)
  if(TARGET ArrowCompute::arrow_compute_shared)
    find_package(ArrowCompute CONFIG QUIET)
    target_link_libraries(kpipe::arrow_compute INTERFACE ArrowCompute::arrow_compute_shared)
    target_compile_definitions(kpipe::arrow_compute INTERFACE KPIPE_ARROW_COMPUTE_SPLIT=1)
  endif()
  # Arrow >= 22 builds its S3 file system as a library of its own; before, it is in libarrow.
  add_library(kpipe::arrow_s3 INTERFACE IMPORTED)
  find_package(ArrowS3 CONFIG QUIET)
  if(TARGET ArrowS3::arrow_s3_shared)
    target_link_libraries(kpipe::arrow_s3 INTERFACE ArrowS3::arrow_s3_shared)
  endif()
  set(KPIPE_ARROW_SOURCE "installed Arrow ${Arrow_VERSION}" CACHE STRING "" FORCE)
  return()
endif()

set(KPIPE_PYTHON "${CMAKE_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "Python whose pyarrow wheel provides Arrow C++ when no installed Arrow is found")
if(NOT EXISTS "${KPIPE_PYTHON}")
  message(FATAL_ERROR "No installed Arrow C++ and no ${KPIPE_PYTHON}: run scripts/bootstrap "
                      "(it creates .venv with pyarrow), or set -DKPIPE_PYTHON=/path/to/python.")
endif()
execute_process(
  COMMAND "${KPIPE_PYTHON}" -c
          "import pyarrow as pa; print(pa.get_library_dirs()[0]); print(pa.get_include()); print(pa.__version__)"
  OUTPUT_VARIABLE _pa_out RESULT_VARIABLE _pa_rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _pa_rc EQUAL 0)
  message(FATAL_ERROR "${KPIPE_PYTHON} cannot import pyarrow: run scripts/bootstrap.")
endif()
string(REPLACE "\n" ";" _pa_out "${_pa_out}")
list(GET _pa_out 0 KPIPE_PYARROW_LIBDIR)
list(GET _pa_out 1 KPIPE_PYARROW_INCLUDE)
list(GET _pa_out 2 KPIPE_PYARROW_VERSION)

# The wheel ships only versioned names (libarrow.so.2600); link to them by full path.
function(_kpipe_wheel_lib target stem)
  file(GLOB _candidates "${KPIPE_PYARROW_LIBDIR}/lib${stem}.so.[0-9]*")
  list(FILTER _candidates EXCLUDE REGEX "\\.so\\.[0-9]+\\.[0-9]")
  if(NOT _candidates)
    message(FATAL_ERROR "lib${stem}.so.* not found in ${KPIPE_PYARROW_LIBDIR}")
  endif()
  list(GET _candidates 0 _lib)
  add_library(${target} SHARED IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES IMPORTED_LOCATION "${_lib}"
                        INTERFACE_INCLUDE_DIRECTORIES "${KPIPE_PYARROW_INCLUDE}")
endfunction()

_kpipe_wheel_lib(kpipe::arrow arrow)
_kpipe_wheel_lib(kpipe::parquet parquet)
target_link_libraries(kpipe::parquet INTERFACE kpipe::arrow)
file(GLOB _compute "${KPIPE_PYARROW_LIBDIR}/libarrow_compute.so.*")
if(_compute)
  _kpipe_wheel_lib(kpipe::arrow_compute arrow_compute)
  target_compile_definitions(kpipe::arrow_compute INTERFACE KPIPE_ARROW_COMPUTE_SPLIT=1)
else()
  add_library(kpipe::arrow_compute INTERFACE IMPORTED)
endif()
file(GLOB _s3 "${KPIPE_PYARROW_LIBDIR}/libarrow_s3.so.*")
if(_s3)
  _kpipe_wheel_lib(kpipe::arrow_s3 arrow_s3)
else()
  add_library(kpipe::arrow_s3 INTERFACE IMPORTED)
endif()
# The wheel's headers are not ours to warn about.
set_target_properties(kpipe::arrow kpipe::parquet PROPERTIES
                      INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${KPIPE_PYARROW_INCLUDE}")
set(CMAKE_BUILD_RPATH "${CMAKE_BUILD_RPATH};${KPIPE_PYARROW_LIBDIR}")
set(CMAKE_INSTALL_RPATH "${CMAKE_INSTALL_RPATH};${KPIPE_PYARROW_LIBDIR}")
set(KPIPE_ARROW_SOURCE "pyarrow ${KPIPE_PYARROW_VERSION} wheel (${KPIPE_PYARROW_LIBDIR})" CACHE STRING "" FORCE)
