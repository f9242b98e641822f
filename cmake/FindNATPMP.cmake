# libnatpmp (Debian: libnatpmp-dev) has no pkg-config file: find its header
# and library, and give the imported target NATPMP::NATPMP.
find_path(NATPMP_INCLUDE_DIR natpmp.h)
find_library(NATPMP_LIBRARY natpmp)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(NATPMP
  REQUIRED_VARS NATPMP_LIBRARY NATPMP_INCLUDE_DIR)
if(NATPMP_FOUND AND NOT TARGET NATPMP::NATPMP)
  add_library(NATPMP::NATPMP UNKNOWN IMPORTED)
  set_target_properties(NATPMP::NATPMP PROPERTIES
    IMPORTED_LOCATION "${NATPMP_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${NATPMP_INCLUDE_DIR}")
endif()
mark_as_advanced(NATPMP_INCLUDE_DIR NATPMP_LIBRARY)
