# All dependencies are Debian packages (scripts/install-deps installs them).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(UV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(EXPAT REQUIRED IMPORTED_TARGET expat)
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
# libpq for the PostgreSQL store (libpq-dev). Used without TLS: store/pg_conninfo.h.
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(IDN REQUIRED IMPORTED_TARGET libidn)
find_package(nlohmann_json REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(CLI11 REQUIRED)

# BoringSSL from android-libboringssl-dev: headers and libs live in android/ folders,
# away from OpenSSL's; the runtime needs an rpath to find them.
set(XMESH_BORINGSSL_INC /usr/include/android)
set(XMESH_BORINGSSL_LIBDIR /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/android)
if(NOT EXISTS ${XMESH_BORINGSSL_INC}/openssl/ssl.h)
  message(FATAL_ERROR "BoringSSL headers not found: apt-get install android-libboringssl-dev")
endif()
add_library(boringssl_crypto SHARED IMPORTED)
set_target_properties(boringssl_crypto PROPERTIES
  IMPORTED_LOCATION ${XMESH_BORINGSSL_LIBDIR}/libcrypto.so
  INTERFACE_INCLUDE_DIRECTORIES ${XMESH_BORINGSSL_INC})
add_library(boringssl_ssl SHARED IMPORTED)
set_target_properties(boringssl_ssl PROPERTIES
  IMPORTED_LOCATION ${XMESH_BORINGSSL_LIBDIR}/libssl.so
  INTERFACE_INCLUDE_DIRECTORIES ${XMESH_BORINGSSL_INC}
  INTERFACE_LINK_LIBRARIES boringssl_crypto)
set(CMAKE_BUILD_RPATH ${XMESH_BORINGSSL_LIBDIR})
set(CMAKE_INSTALL_RPATH ${XMESH_BORINGSSL_LIBDIR})

# Expat: Debian's 2.5.0 carries the reparse-deferral backport without bumping its
# version, so detect the symbol instead of trusting XML_MAJOR/MINOR.
include(CheckSymbolExists)
set(CMAKE_REQUIRED_LIBRARIES expat)
check_symbol_exists(XML_SetReparseDeferralEnabled expat.h XMESH_HAVE_REPARSE_DEFERRAL)
unset(CMAKE_REQUIRED_LIBRARIES)

if(XMESH_MIMALLOC)
  find_package(mimalloc REQUIRED)
endif()

if(XMESH_TESTS)
  find_package(GTest REQUIRED)
endif()
if(XMESH_BENCH)
  find_package(benchmark REQUIRED)
endif()

# Executables link this to get mimalloc as the process-wide malloc (dynamic override
# by symbol interposition: it must come first on the link line).
add_library(xmesh_allocator INTERFACE)
if(XMESH_MIMALLOC)
  target_link_libraries(xmesh_allocator INTERFACE mimalloc)
endif()
