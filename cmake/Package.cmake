# The Debian package: `cpack -G DEB` in the build directory (`./run package`),
# from the same install rules as `cmake --install`, component lazyroot only
# (no tests, no benchmarks). Installed under /usr whatever CMAKE_INSTALL_PREFIX.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME lazyroot)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "lazyroot maintainers <lazyroot@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "boot Linux from a network disk image, fetched on demand (ublk)")
set(CPACK_PACKAGE_DESCRIPTION
    "A ublk userspace block driver that serves a root image from HTTP(S) or NVMe/TCP on demand, with a local cache and dm-verity, and a dracut module (dracut --add lazyroot) to boot from it.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL lazyroot)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_STRIP_FILES TRUE)  # the debug info stays in the build tree; the initrd carries the binary
# The shared libraries the binary links, from dpkg-shlibdeps; the initrd
# integration needs dracut and its network module.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "dracut-core, dracut-network")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nginx, cryptsetup-bin")
include(CPack)
