# Finds librdkafka and defines the target kpipe::rdkafka.
#
# The headers are always Debian's librdkafka-dev (found with pkg-config). The library is chosen by
# KPIPE_RDKAFKA:
#   auto   (default) the wheel's when there is one, else the system's, with a warning that says so.
#   wheel  the librdkafka the confluent-kafka wheel of .venv/ (or of KPIPE_PYTHON)
#          bundles, linked by full path with an RPATH, the way KpipeArrow.cmake links the pyarrow
#          wheel's Arrow. Debian 12's librdkafka is 2.0.2 (early 2023); the wheel's is current
#          (2.16 with confluent-kafka 2.16.2), and its main thread no longer spins through the
#          last millisecond before each timer (confluentinc/librdkafka#4671, in 2.4.0), which was
#          the largest single cost of a stream at 1,000 events/s (bench/results/PROFILE.md).
#          librdkafka keeps one ABI for every 1.x and 2.x release (soname librdkafka.so.1), so code
#          compiled against the older headers calls the newer library correctly; the wheel's
#          library is self-contained (it exports only rd_kafka_* symbols).
#   system the library that comes with the headers (Debian's librdkafka1).
# With KPIPE_RDKAFKA=wheel and no wheel found, the build stops and says how to get one. (pip builds
# confluent-kafka from source where it has no binary wheel for the platform, and such a build
# bundles no librdkafka: `auto` then links the system's, which kpipe also runs with.)

set(KPIPE_RDKAFKA "auto" CACHE STRING
    "librdkafka to link: auto (the confluent-kafka wheel's when there is one, else the system's), wheel or system")
set_property(CACHE KPIPE_RDKAFKA PROPERTY STRINGS auto wheel system)
set(KPIPE_RDKAFKA_SOURCE "" CACHE STRING "where librdkafka came from (set by KpipeRdkafka.cmake)" FORCE)

find_package(PkgConfig REQUIRED)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)

macro(_kpipe_link_system_rdkafka)
  add_library(kpipe::rdkafka INTERFACE IMPORTED)
  target_link_libraries(kpipe::rdkafka INTERFACE PkgConfig::RDKAFKA)
  set(KPIPE_RDKAFKA_SOURCE "system librdkafka ${RDKAFKA_VERSION}" CACHE STRING "" FORCE)
endmacro()

# No wheel's librdkafka: the build stops (KPIPE_RDKAFKA=wheel) or links the system's (auto).
macro(_kpipe_no_wheel_rdkafka why)
  if(KPIPE_RDKAFKA STREQUAL "wheel")
    message(FATAL_ERROR "${why}: run scripts/bootstrap (requirements.txt installs it), or configure "
                        "with -DKPIPE_RDKAFKA=system (or auto) to link the system's librdkafka instead.")
  endif()
  message(WARNING "${why}: linking the system's librdkafka ${RDKAFKA_VERSION} instead "
                  "(KPIPE_RDKAFKA=auto; 2.0.x costs more CPU at low rates, bench/results/PROFILE.md).")
  _kpipe_link_system_rdkafka()
  return()
endmacro()

if(KPIPE_RDKAFKA STREQUAL "system")
  _kpipe_link_system_rdkafka()
  return()
elseif(NOT KPIPE_RDKAFKA STREQUAL "wheel" AND NOT KPIPE_RDKAFKA STREQUAL "auto")
  message(FATAL_ERROR "KPIPE_RDKAFKA is '${KPIPE_RDKAFKA}': it must be auto, wheel or system")
endif()

set(KPIPE_PYTHON "${CMAKE_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "Python whose wheels provide Arrow C++ and librdkafka")
execute_process(
  COMMAND "${KPIPE_PYTHON}" -c
          "import importlib.metadata as m; d = m.distribution('confluent-kafka'); \
libs = sorted(str(f.locate()) for f in d.files if f.name.startswith('librdkafka') and '.so' in f.name); \
print(libs[0] if libs else ''); print(d.version)"
  OUTPUT_VARIABLE _ck_out RESULT_VARIABLE _ck_rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
string(REPLACE "\n" ";" _ck_out "${_ck_out}")
list(LENGTH _ck_out _ck_n)
if(NOT _ck_rc EQUAL 0 OR NOT _ck_n EQUAL 2)
  _kpipe_no_wheel_rdkafka("${KPIPE_PYTHON} has no confluent-kafka wheel, whose librdkafka kpipe links")
endif()
list(GET _ck_out 0 _ck_lib)
list(GET _ck_out 1 _ck_version)
if(_ck_lib STREQUAL "" OR NOT EXISTS "${_ck_lib}")
  _kpipe_no_wheel_rdkafka("The confluent-kafka ${_ck_version} of ${KPIPE_PYTHON} bundles no librdkafka "
                          "(a build from source links the system's)")
endif()
get_filename_component(KPIPE_RDKAFKA_LIBDIR "${_ck_lib}" DIRECTORY)
add_library(kpipe::rdkafka SHARED IMPORTED GLOBAL)
set_target_properties(kpipe::rdkafka PROPERTIES IMPORTED_LOCATION "${_ck_lib}"
                      INTERFACE_INCLUDE_DIRECTORIES "${RDKAFKA_INCLUDE_DIRS}")
set(CMAKE_BUILD_RPATH "${CMAKE_BUILD_RPATH};${KPIPE_RDKAFKA_LIBDIR}")
set(CMAKE_INSTALL_RPATH "${CMAKE_INSTALL_RPATH};${KPIPE_RDKAFKA_LIBDIR}")
set(KPIPE_RDKAFKA_SOURCE "confluent-kafka ${_ck_version} wheel (${_ck_lib}; headers: librdkafka-dev ${RDKAFKA_VERSION})"
    CACHE STRING "" FORCE)
