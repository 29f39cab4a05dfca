# Clang toolchain. The major version defaults to 17 and is a setting:
#   -DINFENG_CLANG_VERSION=19   or   INFENG_CLANG_VERSION=19 in the environment.
# scripts/setup.sh picks the nearest packaged major when 17 is not packaged (Debian 12) and
# passes it here; the compiler that was used is recorded in every result.
if(NOT DEFINED INFENG_CLANG_VERSION)
  if(DEFINED ENV{INFENG_CLANG_VERSION})
    set(INFENG_CLANG_VERSION "$ENV{INFENG_CLANG_VERSION}")
  else()
    set(INFENG_CLANG_VERSION 17)
  endif()
endif()
set(INFENG_CLANG_VERSION "${INFENG_CLANG_VERSION}" CACHE STRING "clang major version")
# try_compile projects re-read this file without the cache: hand the choice down to them.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES INFENG_CLANG_VERSION)
set(ENV{INFENG_CLANG_VERSION} "${INFENG_CLANG_VERSION}")

find_program(INFENG_CLANG_C NAMES clang-${INFENG_CLANG_VERSION})
find_program(INFENG_CLANG_CXX NAMES clang++-${INFENG_CLANG_VERSION})
if(NOT INFENG_CLANG_C OR NOT INFENG_CLANG_CXX)
  message(FATAL_ERROR "clang-${INFENG_CLANG_VERSION} not found: run scripts/setup.sh, or set INFENG_CLANG_VERSION to an installed major")
endif()
set(CMAKE_C_COMPILER "${INFENG_CLANG_C}")
set(CMAKE_CXX_COMPILER "${INFENG_CLANG_CXX}")
